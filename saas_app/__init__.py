"""Narrated Studio: a multi-tenant SaaS that turns topics and scenes into narrated videos."""
