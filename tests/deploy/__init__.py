import pytest

pytest.register_assert_rewrite("tests.deploy.helpers")  # its asserts explain themselves too
