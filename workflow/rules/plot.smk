# plot: the figures of the experiment from the aggregated results (local). figures/index.json lists them.


rule plot:
    input:
        rules.aggregate.output,
        params=PARAMS,
    output:
        index=str(RESULTS / ResultFiles.FIGURE_INDEX),
    log:
        f"{LOGS}/plot.log",
    threads: max(RES.default.cpus, 2)  # figures are independent: it runs last, when the cores are free
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab plot --params {input.params:q} --jobs {threads} > {log:q} 2>&1"
