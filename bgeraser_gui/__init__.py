"""bgeraser: cut subjects out of photos locally and perfect the cutout by hand."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bgeraser-gui")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

APP_NAME = "bgeraser"
