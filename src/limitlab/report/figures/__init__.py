"""The figures of one experiment (PNG + PDF in ``results_dir/figures/``): the shared style (:mod:`.style`), one module
per figure family (:mod:`.curves`, :mod:`.fano`, :mod:`.limit_beta`, :mod:`.q_network`, :mod:`.accuracy_vs_noise`,
:mod:`.detection`, :mod:`.susceptibility`) and the one figure index (:mod:`.index`: the table of figure kinds with
their report category and caption, and the driver that draws them and writes ``figures/index.json``). Figures read
cells, curves and tables from :mod:`limitlab.report`. Of limitlab it may import, as the rest of the family:
``experiment``, ``data`` (Figure 3's images, the noise models' matrices), ``detection_metrics``, ``io`` and
``errors``. Besides them numpy / pandas / matplotlib / seaborn / scipy; never torch, :mod:`limitlab.training`,
:mod:`limitlab.evaluation`, :mod:`limitlab.jobs` or :mod:`limitlab.pipeline`.
"""
