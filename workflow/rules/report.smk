# report_assets: what `snakemake --report RESULTS/report.html` shows (README "Report"). The results page and one
# folder per figure family are written by `limitlab report-assets`; the tables and the params file are marked
# for the report where they already are. Snakemake adds its own run statistics (per-rule runtimes, timeline).

from limitlab.report.figures.index import captions as figure_captions


rule report_assets:
    input:
        index=str(RESULTS / ResultFiles.FIGURE_INDEX),
        params=report(PARAMS, category="Params file", caption="../report/params.rst"),
        table=report(str(RESULTS / ResultFiles.TABLE), category="Results", subcategory="Tables (CSV)",
                     caption="../report/table_csv.rst"),
        detection=report(str(RESULTS / ResultFiles.DETECTION), category="Results", subcategory="Tables (CSV)",
                         caption="../report/detection_csv.rst"),
        selection=report(str(RESULTS / ResultFiles.SELECTION), category="Results", subcategory="Tables (CSV)",
                         caption="../report/selection_csv.rst"),
        metrics=report(str(RESULTS / ResultFiles.METRICS), category="Results", subcategory="Tables (CSV)",
                       caption="../report/metrics.rst"),
        inputs=report(str(RESULTS / ResultFiles.INPUTS), category="Results", subcategory="Tables (CSV)",
                      caption="../report/inputs_csv.rst"),
        paired=report(str(RESULTS / ResultFiles.PAIRED), category="Results", subcategory="Tables (CSV)",
                      caption="../report/paired_csv.rst"),
        claims=report(str(RESULTS / ResultFiles.CLAIMS), category="Results", subcategory="Tables (CSV)",
                      caption="../report/claims_csv.rst"),
    output:
        page=report(str(RESULTS / ResultFiles.RESULTS_PAGE), category="Results", subcategory="Results page",
                    caption="../report/results.rst"),
        figures=report(directory(str(RESULTS / ResultFiles.REPORT_FIGURES)), patterns=["{family}/{name}.png"],
                       category="{family}", caption="../report/figure.rst",
                       labels=lambda wildcards: {"figure": wildcards.name}),
    params:
        experiment=EXP.name,
        about=figure_captions(),
    log:
        f"{LOGS}/report_assets.log",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab report-assets --params {input.params:q} > {log:q} 2>&1"

