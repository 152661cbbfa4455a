"""chargeledger: an event-sourced Charging Station Management System."""

__version__ = "0.1.0"
