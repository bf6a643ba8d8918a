"""nscheck: find vulnerable and compromised Citrix NetScaler ADC / Gateway appliances."""

__version__ = "0.1.0"
