"""A chain of sites: each site's Mosquitto bridges to a central broker.

``bridge_config`` writes the site broker's configuration from the site config;
``model`` holds the chain view's state, ``monitor`` feeds it from the central broker.
See ``docs/chain.md``.
"""
