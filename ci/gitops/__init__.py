"""GitOps write-back: commit the image tag each environment runs into ``gitops/<env>/values.yaml``.

``values`` edits the YAML (pure, text in, text out), ``tags`` validates names, ``message`` writes
commit messages, ``remote`` does the git I/O in a throw-away partial clone, ``history`` reads
ancestry and the values file's past, ``writeback`` is the fetch-apply-push-retry loop and
``commands`` the CLI.
"""
