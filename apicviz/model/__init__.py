"""The pure model: scenarios, KVM's APIC map per kernel range, routing, analysis.

Nothing in this package imports Qt (a test enforces it), so ``apicviz eval``
and any script can use it on a machine without a display.
"""
from __future__ import annotations

from .analysis import Evaluation, evaluate
from .apic_map import ApicMap, MapResult, recalculate
from .errors import ScenarioError
from .kernels import BEHAVIOURS, KERNEL_CHOICES, behaviour_for, parse_kernel
from .routing import Route, Router
from .scenario import Interrupt, KvmConfig, Scenario, Vcpu, check_scenario
from .scenario_file import load_scenario, save_scenario, scenario_from_dict, scenario_from_text, scenario_to_dict

__all__ = [
    "BEHAVIOURS",
    "KERNEL_CHOICES",
    "ApicMap",
    "Evaluation",
    "Interrupt",
    "KvmConfig",
    "MapResult",
    "Route",
    "Router",
    "Scenario",
    "ScenarioError",
    "Vcpu",
    "behaviour_for",
    "check_scenario",
    "evaluate",
    "load_scenario",
    "parse_kernel",
    "recalculate",
    "save_scenario",
    "scenario_from_dict",
    "scenario_from_text",
    "scenario_to_dict",
]
