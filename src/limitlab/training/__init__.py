"""The training family: one run of one method, from its spec to its finished files, and nothing about scheduling.

It owns the device, the seeds and the one fast-path decision (:mod:`~limitlab.training.device`: channels-last
and bf16, also asked by evaluation), a run's data on the device (:mod:`~limitlab.training.run_data`, batched by
:mod:`~limitlab.training.batches`), the networks (:mod:`~limitlab.training.networks`), the loop itself with
Adam, noisy-validation model selection and early stopping (:mod:`~limitlab.training.loop`), every torch file of a
run — model.pt, the resume state, init sources, :func:`~limitlab.training.checkpoints.load_trained` for inference
(:mod:`~limitlab.training.checkpoints`) — the text results (:mod:`~limitlab.training.results`), the progress
display (:mod:`~limitlab.training.progress`) and the susceptibility probe (:mod:`~limitlab.training.susceptibility`).
Of limitlab it may import: ``experiment`` (the spec, file names), ``data``, ``methods``, ``io``, ``errors`` and
``torch_on_demand``; besides them torch. Never :mod:`limitlab.jobs`, :mod:`limitlab.pipeline` or
:mod:`limitlab.report`: the training code never sees the scheduler, it is called with a spec and writes the run's
folder.
"""
