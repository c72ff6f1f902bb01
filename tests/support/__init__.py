"""Helpers shared by the tests: test_client and real clients, live servers, services."""
