"""``python -m ci wait``: follow Argo CD until it runs the build healthy, or says why not.

``verdict`` decides from one Application object (pure), ``argocd`` is the read-only HTTP client
(two GET endpoints; the token only for ARGOCD_SERVER's origin), ``transport`` the one GET with a
deadline for the whole exchange (durations and deadlines: ``ci.deadline``),
``revisions`` answers from git which commits still run our image (and which one rolled ours back),
and ``commands`` is the CLI and the poll loop that ``deploy|promote|rollback --wait`` reuse.
"""
