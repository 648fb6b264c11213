"""homelab-charts: the homelab's Flux CD GitOps tree, generated from cdk8s constructs."""

import os as _os

# jsii prints a multi-line end-of-life banner for Node 20 in every process, and the cdk8s
# CLI checks for upgrades over the network; neither helps a synthesis.
_os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
_os.environ.setdefault("CDK8S_CHECK_UPGRADE", "false")

__version__ = "0.1.0"
