"""Colours and names shared by every page (all text colours pass WCAG AA on white)."""

BRAND = "#5b21b6"  # 8.6:1 on white
INK = "#1f1f2e"
MUTED = "#4b5563"  # 7.5:1 on white
DANGER = "#b91c1c"
PRODUCT_NAME = "Narrated Studio"
