"""Referrals through the network: send, answer, track; their loader, rules and
presentation. Builds on `app.cases` (through its loader), never the other way round."""
