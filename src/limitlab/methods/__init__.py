"""Training methods. Importing this package registers every method module listed in ``MODULES``."""

import importlib

from limitlab.methods.base import REGISTRY, Context, InitConfig, Method, MethodConfig, StepOutput, register

# One module per method; a new method is a new module added here plus a params entry.
MODULES = ["ce", "mae", "gce", "noisy_grad", "fw", "dmi", "soft_reg", "limit", "pumpout", "grad_rescale"]

for _name in MODULES:
    importlib.import_module(f"limitlab.methods.{_name}")

__all__ = ["REGISTRY", "Context", "InitConfig", "Method", "MethodConfig", "StepOutput", "register"]
