"""``python -m ci verify``: judge a build by the service's own metrics, through Prometheus.

``subject`` reads from the gitops branch which build an environment runs and the verify rule of
``gitops/promotion.yaml``; ``queries`` is the PromQL (this build's series only, joined on
``app_build_info`` by scrape target; the probes left out); ``prometheus`` the read-only HTTP API
client (the token only for PROMETHEUS_URL's origin, every request within its deadline);
``traffic`` the bounded synthetic requests; ``judge`` the pure judgement of the numbers against
the rule; ``watch`` the loop that measures over the window and prints progress.
"""
