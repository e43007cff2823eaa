"""The demo: a fictional rural ISP seeded into a working installation (`cpniguard demo`)."""
