"""cpniguard: makes a small ISP's privacy policy true in software."""

__version__ = "0.1.0"
