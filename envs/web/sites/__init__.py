"""The web family's sites (shop, forum, admin): FastAPI apps over seeded in-process state.

:class:`~prmgym.envs.web.sites.server.SiteServer` serves them all on 127.0.0.1; each site is
two modules, ``<site>_data`` (its state: generated from a seed, changed by plain functions)
and ``<site>`` (its pages: server-rendered HTML from ``templates/``, forms that post and
redirect).
"""
