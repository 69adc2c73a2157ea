"""The site configuration: one YAML file with the cameras and the pipeline's settings, validated strictly.

    from gunwatch.config import load_site_config
    site = load_site_config("site.yaml")      # SiteConfig, or ConfigError listing every problem
    for name, camera in site.enabled_cameras.items():
        print(name, camera.kind, redact_url(camera.url))

`configs/site.example.yaml` shows every setting. Modules: `site` (the root), `camera`, `zones`,
`sections` (detector, confirmation, motion, evidence, store, health), `sources` (URL kinds), `env`
(`${NAME}` references), `redact` (passwords out of output), `load` and `messages` (errors), `summary`.
"""

from gunwatch.config.camera import Camera, DetectSettings
from gunwatch.config.errors import ConfigError, ConfigProblem
from gunwatch.config.load import load_site_config, load_store_settings, parse_site_config
from gunwatch.config.redact import redact_url
from gunwatch.config.site import SiteConfig
from gunwatch.config.sources import SourceKind, source_kind
from gunwatch.config.zones import Zone

__all__ = [
    "Camera",
    "ConfigError",
    "ConfigProblem",
    "DetectSettings",
    "SiteConfig",
    "SourceKind",
    "Zone",
    "load_site_config",
    "load_store_settings",
    "parse_site_config",
    "redact_url",
    "source_kind",
]
