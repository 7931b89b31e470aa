"""The planted fraud mechanisms, each written once: shipments S1-S11 and passengers P1-P4.

``shipments`` holds one object per shipment mechanism (its intensity, its effect on the declared values
and its term in the oracle); ``passengers`` holds one record per passenger violation (the distributions of
a trip's fields under it, and what is at stake). The generators (``riskscore.synthetic.shipments`` and
``riskscore.synthetic.passengers``) iterate over the registries ``SHIPMENT_REGISTRY`` and
``PASSENGER_REGISTRY`` (``MECHANISMS`` in each module), which hold the mechanisms in the order of the names
in ``scenario.SHIPMENT_MECHANISMS`` and ``scenario.PASSENGER_MECHANISMS``.
"""

from __future__ import annotations

from riskscore.synthetic.mechanisms.passengers import MECHANISMS as PASSENGER_REGISTRY
from riskscore.synthetic.mechanisms.passengers import PassengerMechanism, TripProfile
from riskscore.synthetic.mechanisms.shipments import MECHANISMS as SHIPMENT_REGISTRY
from riskscore.synthetic.mechanisms.shipments import ShipmentMechanism

__all__ = [
    "PASSENGER_REGISTRY",
    "SHIPMENT_REGISTRY",
    "PassengerMechanism",
    "ShipmentMechanism",
    "TripProfile",
]
