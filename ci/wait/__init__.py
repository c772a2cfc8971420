"""``python -m ci wait``: follow Argo CD until it runs the build healthy, or says why not.

``verdict`` decides from one Application object (pure), ``argocd`` is the read-only HTTP client
(two GET endpoints), ``revisions`` answers from git which commits still run our image, and
``commands`` is the CLI and the poll loop that ``deploy|promote|rollback --wait`` reuse.
"""
