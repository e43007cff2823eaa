"""Page views: the staff member's own pages (staff) and the protected records (records)."""
