# cleanlab beside LIMIT (noisy-label detection, src/limitlab/evaluation/cleanlab_detection.py), for studies with a `cleanlab:`
# block: one job per setting (`limitlab cleanlab run`) splits the setting's noisy training split into K
# stratified folds, trains the study's cleanlab.source method (CE) on each fold's complement with the one
# training loop (one process, one GPU, the folds one after another; a fold that finished for its spec is not
# trained again, an unfinished one resumes), then turns the out-of-sample probabilities into cleanlab's label
# issues, scores and noise matrix. The fold files (DATA/cv/KEY/fold<i>/) are not Snakemake outputs.

from limitlab.experiment.grid import cleanlab_specs
from limitlab.experiment.paths import CleanlabFiles

CLEANLAB = {s.key: s for s in cleanlab_specs(EXP)}
CLEANLAB_FILES = [str(Path(s.out_dir) / CleanlabFiles.SUMMARY) for s in CLEANLAB.values()]  # inputs of aggregate


rule cleanlab:
    input:
        data=lambda wildcards: str(CLEANLAB[wildcards.key].fold_specs[0].data_path),
        labels=lambda wildcards: str(CLEANLAB[wildcards.key].labels_path),
    output:
        summary=f"{DATA}/cv/{{key}}/cleanlab/{CleanlabFiles.SUMMARY}",
        probs=f"{DATA}/cv/{{key}}/cleanlab/{CleanlabFiles.PROBS}",
        issues=f"{DATA}/cv/{{key}}/cleanlab/{CleanlabFiles.ISSUES}",
    params:
        spec=lambda wildcards: CLEANLAB[wildcards.key].model_dump_json(),
        failed=f"{DATA}/cv/{{key}}/{FAILED}",
        interrupted=f"{DATA}/cv/{{key}}/{INTERRUPTED}",
    log:
        f"{LOGS}/cleanlab/{{key}}.log",
    benchmark:
        f"{LOGS}/benchmarks/cleanlab/{{key}}.tsv"
    wildcard_constraints:
        key="|".join(map(re.escape, CLEANLAB)) or "(?!)",
    threads: PLAN.cpus
    resources:
        runtime=lambda wildcards: CLEANLAB[wildcards.key].folds * RES.train.runtime + RES.evaluate.runtime,
        **PLAN.job_resources(),
    conda:
        "../envs/limitlab.yaml"
    shell:
        guarded('limitlab cleanlab run --spec "$spec"')
