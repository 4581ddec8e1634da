"""bplight-cosim: SPICE-coupled co-simulation of photonic + memristive accelerators.

The package is split by physical domain (see ARCHITECTURE in the shared design):
``cosim.spice`` (ngspice engine), ``cosim.netlist`` (netlist object model),
``cosim.native`` (nodal-analysis twin), ``cosim.devices`` (device models and cards),
``cosim.optics`` (transfer-matrix photonics), ``cosim.store`` (HDF5).

Importing ``cosim`` is deliberately light: no PySpice, h5py or matplotlib.
"""

__version__ = "0.1.0"
