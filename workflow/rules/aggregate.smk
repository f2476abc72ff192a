# aggregate: metrics.json, tables, model selection and curves of the whole experiment (local, seconds). Its
# inputs are the summaries of the run jobs; runs that failed (failure markers) have no outputs, and
# `limitlab aggregate` marks them missing. The whole params file is an input here (labels, selection, ...).


rule aggregate:
    input:
        params=PARAMS,
        runs=lambda wildcards: job_files(),
        cleanlab=CLEANLAB_FILES,
    output:
        **{name.replace(".", "_"): str(RESULTS / name) for name in ResultFiles.AGGREGATED},
        detection_csv=str(RESULTS / ResultFiles.DETECTION),
        inputs_csv=str(RESULTS / ResultFiles.INPUTS),  # content identities of every setting's dataset and noise
        experiment_json=str(RESULTS / ResultFiles.EXPERIMENT),  # which experiment and grid the tables are of
    log:
        f"{LOGS}/aggregate.log",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab aggregate --params {input.params:q} > {log:q} 2>&1"
