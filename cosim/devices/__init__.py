"""Numpy device models and the TOML device cards that parameterise them."""

from cosim.devices.cards import Card, Parameter, list_cards, load_card

__all__ = ["Card", "Parameter", "list_cards", "load_card"]
