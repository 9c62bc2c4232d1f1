"""Setuptools shim; the metadata lives in setup.cfg.

One addition that setup.cfg cannot express: paddledet's `sklearn==0.0` pin is satisfied by the
empty package in third_party/sklearn-stub (see its setup.py), named by a direct reference, which
needs this file's absolute location.
"""
import configparser
import pathlib

from setuptools import setup

HERE = pathlib.Path(__file__).parent.resolve()
config = configparser.ConfigParser()
config.read(HERE / "setup.cfg")
requirements = [line.strip() for line in config["options"]["install_requires"].splitlines()
                if line.strip() and not line.strip().startswith("#")]
setup(install_requires=[*requirements, f"sklearn @ {(HERE / 'third_party' / 'sklearn-stub').as_uri()}"])
