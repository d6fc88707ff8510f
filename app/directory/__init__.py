"""The network directory: territory, institutions, services, measure types, labels."""
