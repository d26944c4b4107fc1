"""The formats of ad pixel ids, in one place: a company's settings (Settings → Pixels,
``/api/v1/pixels``) and the installation's defaults (``FACEBOOK_PIXEL_ID`` /
``TIKTOK_PIXEL_ID``) are checked by the same rule."""

from __future__ import annotations

import re

# Meta pixel (dataset) ids are 15 or 16 digits; TikTok pixel codes about 20 upper-case
# letters and digits (C4A1B2C3D4E5F6G7H8I9).
META_PIXEL_ID = re.compile(r"^[0-9]{15,16}$")
META_PIXEL_ID_RULE = "15 or 16 digits"
META_PIXEL_ID_MAX = 16
TIKTOK_PIXEL_CODE = re.compile(r"^[A-Z0-9]{15,30}$")
TIKTOK_PIXEL_CODE_RULE = "15 to 30 capital letters and digits"
TIKTOK_PIXEL_CODE_MAX = 30
