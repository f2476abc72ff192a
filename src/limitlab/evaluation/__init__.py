"""The evaluation family: what is computed from trained runs' models, after training and outside the loop.

It owns the evaluation of one run (:mod:`~limitlab.evaluation.evaluate`: clean-test predictions, eval.json and, for
methods with a q-network, LIMIT's per-example gradient scores), the detection scores and their ROC AUC / AP
(:mod:`~limitlab.evaluation.detection`), bootstrap error bars of a test accuracy
(:mod:`~limitlab.evaluation.bootstrap`) and cleanlab's K-fold detector beside LIMIT
(:mod:`~limitlab.evaluation.cleanlab_detection`). A model is loaded and run exactly as training runs it, through
:func:`limitlab.training.checkpoints.load_trained` and :func:`limitlab.training.device.fast_paths`. It may import
:mod:`limitlab.training`, :mod:`limitlab.experiment`, :mod:`limitlab.data`, :mod:`limitlab.methods`,
:mod:`limitlab.io`, :mod:`limitlab.errors`, torch, scikit-learn and cleanlab; of :mod:`limitlab.jobs` only the
run identity (``done.json``, :mod:`limitlab.jobs.identity`) that cleanlab's fold training shares with the run
jobs; never :mod:`limitlab.report`.
"""
