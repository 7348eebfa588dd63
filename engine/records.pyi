# Typing for the compiled record builder (engine/records.pyx).
from typing import TypeVar

T = TypeVar("T", bound=tuple)

def new_record(cls: type[T], fields: tuple) -> T: ...
def encode(records: list) -> bytes: ...
