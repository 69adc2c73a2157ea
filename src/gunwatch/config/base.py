"""Building blocks of every config model: strict models, and the names used as mapping keys."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class StrictModel(BaseModel):
    # extra="forbid": a typo is an error, never a silently ignored key.
    # frozen: the pipeline shares one config between threads, so nobody may change it under the others.
    # allow_inf_nan=False: `.inf`, `.nan` or 1e999 is a mistake, which bounds alone do not all catch (a
    # stall_after_s of .inf passed, then broke the camera's FFmpeg options).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_name(name: str) -> str:
    # Names end up in file names (evidence), metric labels and URLs of the API.
    if not _NAME.match(name):
        raise ValueError("a name may hold only letters, digits, '_' and '-'")
    return name


Name = Annotated[str, AfterValidator(_check_name)]
