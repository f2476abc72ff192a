"""The evaluation family: what is computed from trained runs' models, after training and outside the loop.

It owns the evaluation of one run (:mod:`~limitlab.evaluation.evaluate`: clean-test predictions, eval.json and, for
methods with a q-network, LIMIT's per-example gradient scores), LIMIT's detection scores and their ranking
(:mod:`~limitlab.evaluation.detection`; their ROC AUC / AP: :mod:`limitlab.detection_metrics`), bootstrap error bars of a test accuracy
(:mod:`~limitlab.evaluation.bootstrap`) and cleanlab's K-fold detector beside LIMIT
(:mod:`~limitlab.evaluation.cleanlab_detection`). A model is loaded and run exactly as training runs it, through
:func:`limitlab.training.checkpoints.load_trained` and :func:`limitlab.training.device.fast_paths`.

Of limitlab it may import: ``training``, ``experiment``, ``data``, ``methods``, ``io``, ``errors``,
``detection_metrics`` and, of the run jobs, only ``jobs.done_record`` (a run's done.json, which cleanlab's fold training
shares with them); besides them torch, scikit-learn and cleanlab. Never :mod:`limitlab.report`.
"""
