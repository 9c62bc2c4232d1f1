"""`sklearn` 0.0, an empty package: paddledet 2.6.0 requires `sklearn==0.0`, whose PyPI release
refuses to install (scikit-learn's brownout of the deprecated name). This satisfies that pin and
pulls in scikit-learn, which is what the name always meant."""
from setuptools import setup

setup(name="sklearn", version="0.0", install_requires=["scikit-learn"], py_modules=[])
