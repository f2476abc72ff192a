# The limitlab package the workflow plans with (here, while Snakemake reads the workflow) and runs (`limitlab ...`
# in every rule's shell): a clear error when the Python running snakemake lacks it, and where the software environment
# (workflow/envs/limitlab.yaml with --sdm conda) installs it from: the repository that holds this workflow, never
# the working directory, which is the user's folder when the workflow is used as a module.

import os

from snakemake.exceptions import WorkflowError
from snakemake.sourcecache import HostingProviderFile, LocalGitFile


def limitlab_source(rules_dir) -> str:
    """What pip installs as the limitlab of this workflow, from the folder of this file (workflow/rules): the
    repository that holds workflow/ (a folder for a local checkout, git+https://HOST/OWNER/REPO@REF for a module
    read from GitHub or GitLab, git+file://...@REF for a local git repository at a ref; "" when Snakemake read the
    workflow from elsewhere, e.g. a plain URL)."""
    root = rules_dir.join("../..")
    if isinstance(root, (HostingProviderFile, LocalGitFile)):  # root.path: the folder inside the git repository
        repo = (f"https://{root.host}/{root.repo}" if isinstance(root, HostingProviderFile)
                else f"file://{os.path.abspath(root.repo_path)}")
        sub = "" if root.path in ("", ".") else f"#subdirectory={root.path}"
        return f"git+{repo}@{root.ref}{sub}"
    if root.is_local:
        return os.path.abspath(root.get_path_or_uri(secret_free=True))
    return ""


# workflow/envs/limitlab.post-deploy.sh installs what this variable names; set it yourself (not empty) to install
# another limitlab into the environment (a wheel, a release on an index).
PIP_SOURCE_VARIABLE = "LIMITLAB_PIP_SOURCE"
LIMITLAB_SOURCE = limitlab_source(workflow.current_basedir)
if not os.environ.get(PIP_SOURCE_VARIABLE):
    os.environ[PIP_SOURCE_VARIABLE] = LIMITLAB_SOURCE

try:
    import limitlab
except ImportError as exc:
    _install = f"-e {LIMITLAB_SOURCE}" if os.path.isdir(LIMITLAB_SOURCE) else LIMITLAB_SOURCE or "limitlab"
    raise WorkflowError(f"limitlab's workflow plans the grid with the limitlab package, which the Python running "
                        f"snakemake cannot import ({exc}); install it there: pip install {_install}") from None
