"""Training methods: one module per method, its pydantic config and its batch loss (:mod:`~limitlab.methods.base` is
the interface and the registry). Importing this package registers every method module listed in ``MODULES``.

Of limitlab it may import: ``errors``, ``registry``, ``torch_on_demand`` (torch on first use) and
``experiment.strict`` (the strict base of every config; the schema imports the methods, not the other way).
"""

import importlib

from limitlab.methods.base import REGISTRY, Context, InitConfig, Method, MethodConfig, StepOutput, register

# One module per method; a new method is a new module added here plus a params entry.
MODULES = ["ce", "mae", "gce", "noisy_grad", "fw", "dmi", "soft_reg", "limit", "pumpout", "grad_rescale"]

for _name in MODULES:
    importlib.import_module(f"limitlab.methods.{_name}")

__all__ = ["REGISTRY", "Context", "InitConfig", "Method", "MethodConfig", "StepOutput", "register"]
