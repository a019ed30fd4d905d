"""The package turns TensorFlow's oneDNN CPU kernels on unless the user decided otherwise."""
import os
import subprocess
import sys

import pytest

from keras_gan import SETS_ONEDNN_DEFAULT
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not SETS_ONEDNN_DEFAULT,
                                reason="the default applies to x86-64 CPUs only")

PROBE = ("import experiments, os\n"
         "from tensorflow.python.util import _pywrap_util_port\n"
         "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], _pywrap_util_port.IsMklEnabled())\n")


def _probe(value):
    env = {key: val for key, val in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = value
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_programs_load_tensorflow_with_onednn_kernels():
    assert _probe(None) == ["1", "True"]


def test_a_users_choice_is_kept():
    assert _probe("0") == ["0", "False"]
