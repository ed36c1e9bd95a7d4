"""theus-flux: a YAML workflow DSL with a safe compiled condition language and an FSM runner."""

from . import hookspecs
from ._condition import Condition, compile_condition
from ._fsm import TRANSITIONS, RunState
from ._ir import (
    CustomStep,
    IfStep,
    ProcessStep,
    RunStep,
    Step,
    StepKind,
    WaitStep,
    WhileStep,
    Workflow,
)
from ._mermaid import to_mermaid
from ._plugins import make_plugin_manager
from ._position import Position
from ._runner import DEFAULT_MAX_OPS, FluxRunner
from ._svg import to_svg
from ._version import __version__
from ._yaml import FluxLoader
from .exceptions import (
    FluxConditionError,
    FluxError,
    FluxLimitExceeded,
    FluxPaused,
    FluxStepError,
    InvalidWorkflow,
)
from .hookspecs import hookimpl

__all__ = [
    "DEFAULT_MAX_OPS",
    "TRANSITIONS",
    "Condition",
    "CustomStep",
    "FluxConditionError",
    "FluxError",
    "FluxLimitExceeded",
    "FluxLoader",
    "FluxPaused",
    "FluxRunner",
    "FluxStepError",
    "IfStep",
    "InvalidWorkflow",
    "Position",
    "ProcessStep",
    "RunState",
    "RunStep",
    "Step",
    "StepKind",
    "WaitStep",
    "WhileStep",
    "Workflow",
    "__version__",
    "compile_condition",
    "hookimpl",
    "hookspecs",
    "make_plugin_manager",
    "to_mermaid",
    "to_svg",
]
