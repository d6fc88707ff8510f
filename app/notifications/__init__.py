"""In-app notifications: what needs someone's attention, never case content."""
