"""Netlist object model: elements, subcircuits, analyses; rendering and parsing.

Building a netlist needs no ngspice.  ``Circuit.render()`` gives deterministic SPICE
text; ``parse_netlist`` reads it back.  Every name, node and value is validated so that
nothing can smuggle a control line into the text.
"""

from cosim.lazy import lazy_names

# Imported on first use (cosim.lazy): reading a flat netlist needs none of the elements.
__getattr__, __dir__ = lazy_names(__name__, {
    "analysis": ("ANALYSIS_KINDS", "Ac", "Analysis", "AnalysisKind", "Dc", "Noise", "Op",
                 "Tran"),
    "circuit": ("GROUND", "Circuit", "SubCircuit"),
    "elements": ("CCCS", "CCVS", "ELEMENT_TYPES", "VCCS", "VCVS", "BehavioralSource",
                 "Capacitor", "CurrentSource", "Diode", "Element", "Inductor", "Model",
                 "Mosfet", "Pulse", "Pwl", "Resistor", "Sine", "SubcircuitInstance",
                 "TrNoise", "VoltageSource"),
    "parse": ("parse_netlist", "parse_number", "read_netlist"),
})

__all__ = [
    "ANALYSIS_KINDS", "Ac", "Analysis", "AnalysisKind", "BehavioralSource", "CCCS", "CCVS",
    "Capacitor", "Circuit", "CurrentSource", "Dc", "Diode", "ELEMENT_TYPES", "Element", "GROUND",
    "Inductor", "Model", "Mosfet", "Noise", "Op", "Pulse", "Pwl", "Resistor", "Sine",
    "SubCircuit", "SubcircuitInstance", "Tran", "TrNoise", "VCCS", "VCVS", "VoltageSource",
    "parse_netlist", "parse_number", "read_netlist",
]
