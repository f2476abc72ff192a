# timing: per-stage jobs, wall time and peak memory of this experiment's jobs (results/<name>/timing.md/.csv),
# from the benchmark files the compute rules write under logs/<name>/benchmarks/. Local, a second; it runs after
# aggregate, so it sees every job of the grid that has run.


rule timing:
    input:
        rules.aggregate.output,
        params=PARAMS,
    output:
        md=str(RESULTS / ResultFiles.TIMING_MD),
        csv=str(RESULTS / ResultFiles.TIMING),
    params:
        benchmarks=f"{LOGS}/benchmarks",
    log:
        f"{LOGS}/timing.log",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab timing --params {input.params:q} --benchmarks {params.benchmarks:q} > {log:q} 2>&1"
