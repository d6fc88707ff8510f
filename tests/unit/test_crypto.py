"""The envelope format, the key file and the blind indexes, attacked directly.

Threat model: whoever holds a copy of the database (not the key file) must learn nothing,
and whoever can write to it must not be able to move a ciphertext to where it would be
accepted as another survivor's data.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.cases.validators import normalise_dui
from app.crypto.blind_index import INDEX_HEX_CHARS, blind_index, name_dob_key, normalise_name
from app.crypto.envelope import (
    FORMAT_V1,
    NONCE_BYTES,
    DecryptionError,
    FieldCipher,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
    wrapped_kek_id,
)
from app.crypto.keyring import (
    KeyFileError,
    KeyMaterial,
    KeyNotFound,
    KeyRing,
    read_key_file,
    write_key_file,
)

SECRET = "Relato: la golpeó con un machete frente a sus hijos"


def make_cipher() -> FieldCipher:
    return FieldCipher(uuid.uuid4(), new_data_key())


@pytest.fixture
def cipher() -> FieldCipher:
    return make_cipher()


@pytest.fixture
def record_id() -> uuid.UUID:
    return uuid.uuid4()


# ---- field encryption --------------------------------------------------------------


def test_field_round_trip_gives_back_the_text(cipher, record_id):
    blob = cipher.seal("incidents", record_id, "narrative", SECRET)
    assert cipher.open_text("incidents", record_id, "narrative", blob) == SECRET


def test_field_round_trip_keeps_bytes_and_none(cipher, record_id):
    raw = bytes(range(256))
    blob = cipher.seal("attachments", record_id, "content", raw)
    assert cipher.open_bytes("attachments", record_id, "content", blob) == raw
    assert cipher.seal("survivors", record_id, "dui", None) is None
    assert cipher.open_text("survivors", record_id, "dui", None) is None


def test_ciphertext_holds_no_plaintext(cipher, record_id):
    blob = cipher.seal("incidents", record_id, "narrative", SECRET)
    assert SECRET.encode() not in blob
    assert b"machete" not in blob


def test_ciphertext_moved_to_another_row_does_not_decrypt(cipher, record_id):
    blob = cipher.seal("survivors", record_id, "given_names", "María José")
    with pytest.raises(DecryptionError):
        cipher.open_text("survivors", uuid.uuid4(), "given_names", blob)


def test_ciphertext_moved_to_another_field_does_not_decrypt(cipher, record_id):
    blob = cipher.seal("survivors", record_id, "given_names", "María José")
    with pytest.raises(DecryptionError):
        cipher.open_text("survivors", record_id, "family_names", blob)


def test_ciphertext_moved_to_another_table_does_not_decrypt(cipher, record_id):
    blob = cipher.seal("incidents", record_id, "narrative", SECRET)
    with pytest.raises(DecryptionError):
        cipher.open_text("care_notes", record_id, "narrative", blob)


def test_ciphertext_of_integer_record_id_is_bound_to_that_id(cipher):
    # Users have integer ids: user 1's TOTP secret must not open as user 11's.
    blob = cipher.seal("users", 1, "totp_secret", "JBSWY3DPEHPK3PXP")
    assert cipher.open_text("users", 1, "totp_secret", blob) == "JBSWY3DPEHPK3PXP"
    for other in (11, "1 ", 2):
        with pytest.raises(DecryptionError):
            cipher.open_text("users", other, "totp_secret", blob)


def test_ciphertext_made_with_another_data_key_does_not_decrypt(record_id):
    blob = make_cipher().seal("survivors", record_id, "dui", "12345678-4")
    with pytest.raises(DecryptionError):
        make_cipher().open_text("survivors", record_id, "dui", blob)


def test_ciphertext_with_forged_key_id_and_other_key_does_not_decrypt(record_id):
    # The key id in the header is only a label: relabelling a blob does not open it.
    victim, attacker = make_cipher(), make_cipher()
    blob = attacker.seal("survivors", record_id, "dui", "12345678-4")
    relabelled = blob[:1] + victim.key_id.bytes + blob[17:]
    with pytest.raises(DecryptionError):
        victim.open_text("survivors", record_id, "dui", relabelled)


def test_every_flipped_byte_of_a_ciphertext_is_refused(cipher, record_id):
    blob = cipher.seal("incidents", record_id, "narrative", "corta")
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            cipher.open_bytes("incidents", record_id, "narrative", bytes(tampered))


@pytest.mark.parametrize("cut", [0, 1, 17, 17 + NONCE_BYTES, -1])
def test_truncated_ciphertext_is_refused(cipher, record_id, cut):
    blob = cipher.seal("incidents", record_id, "narrative", SECRET)
    with pytest.raises(DecryptionError):
        cipher.open_bytes("incidents", record_id, "narrative", blob[:cut])


def test_ciphertext_starts_with_format_version_and_data_key_id(cipher, record_id):
    blob = cipher.seal("survivors", record_id, "phone", "7777-1234")
    assert blob[0] == FORMAT_V1
    assert blob[1:17] == cipher.key_id.bytes
    # version, key id, nonce, the text, the 16-byte GCM tag
    assert len(blob) == 1 + 16 + NONCE_BYTES + len("7777-1234") + 16


def test_unknown_format_version_is_refused(cipher, record_id):
    blob = cipher.seal("survivors", record_id, "phone", "7777-1234")
    with pytest.raises(DecryptionError):
        cipher.open_bytes("survivors", record_id, "phone", bytes([FORMAT_V1 + 1]) + blob[1:])


def test_two_seals_of_the_same_text_differ(cipher, record_id):
    first = cipher.seal("survivors", record_id, "given_names", "Ana")
    second = cipher.seal("survivors", record_id, "given_names", "Ana")
    assert first != second
    assert first[17 : 17 + NONCE_BYTES] != second[17 : 17 + NONCE_BYTES]  # fresh nonce


# ---- data keys wrapped by a KEK ----------------------------------------------------------


def test_wrapped_data_key_unwraps_with_its_kek():
    kek, data_key, key_id = os.urandom(32), new_data_key(), uuid.uuid4()
    blob = wrap_data_key("k1", kek, key_id, data_key)
    assert wrapped_kek_id(blob) == "k1"
    assert data_key not in blob
    assert unwrap_data_key(kek, key_id, blob) == data_key


def test_wrapped_data_key_does_not_unwrap_with_another_kek():
    data_key, key_id = new_data_key(), uuid.uuid4()
    blob = wrap_data_key("k1", os.urandom(32), key_id, data_key)
    with pytest.raises(DecryptionError):
        unwrap_data_key(os.urandom(32), key_id, blob)


def test_wrapped_data_key_moved_to_another_key_row_does_not_unwrap():
    kek, data_key = os.urandom(32), new_data_key()
    blob = wrap_data_key("k1", kek, uuid.uuid4(), data_key)
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, uuid.uuid4(), blob)


def test_every_flipped_byte_of_a_wrapped_key_is_refused_or_names_another_kek():
    kek, data_key, key_id = os.urandom(32), new_data_key(), uuid.uuid4()
    blob = wrap_data_key("k1", kek, key_id, data_key)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        try:
            named = wrapped_kek_id(bytes(tampered))
        except (DecryptionError, UnicodeDecodeError):
            continue
        if named != "k1":
            continue  # the ring would look up a key it does not hold: KeyNotFound
        with pytest.raises(DecryptionError):
            unwrap_data_key(kek, key_id, bytes(tampered))


@pytest.mark.parametrize("cut", [0, 1, 2, 4, 4 + NONCE_BYTES, 4 + NONCE_BYTES + 8, -1])
def test_truncated_wrapped_key_raises_decryption_error(cut):
    kek, key_id = os.urandom(32), uuid.uuid4()
    blob = wrap_data_key("k1", kek, key_id, new_data_key())
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, key_id, blob[:cut])


def test_wrapped_key_of_unknown_format_version_is_refused():
    kek, key_id = os.urandom(32), uuid.uuid4()
    blob = wrap_data_key("k1", kek, key_id, new_data_key())
    relabelled = bytes([FORMAT_V1 + 1]) + blob[1:]
    with pytest.raises(DecryptionError):
        wrapped_kek_id(relabelled)
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek, key_id, relabelled)


# ---- the key file and the key ring -------------------------------------------------------


def test_key_file_is_written_with_mode_0600(tmp_path):
    path = tmp_path / "keys" / "kek"
    write_key_file(path, KeyMaterial.generate())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0  # directory not shared
    assert not [p for p in path.parent.iterdir() if p.name != "kek"]  # no temp file left


def test_key_file_round_trips(tmp_path):
    material = KeyMaterial.generate()
    write_key_file(tmp_path / "kek", material)
    assert read_key_file(tmp_path / "kek") == material


def test_generated_keys_are_distinct_and_full_length():
    one, two = KeyMaterial.generate(), KeyMaterial.generate()
    keys = [*one.keks.values(), one.index_key, one.audit_key, *two.keks.values()]
    assert all(len(key) == 32 for key in keys)
    assert len(set(keys)) == len(keys)
    assert one.active_kek_id != two.active_kek_id


def test_missing_key_file_raises_key_file_error(tmp_path):
    with pytest.raises(KeyFileError):
        read_key_file(tmp_path / "nowhere")


def _valid_key_json() -> dict:
    return json.loads(KeyMaterial.generate().to_json())


def _broken_key_files() -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = [("empty", ""), ("not json", "{not json"), ("a list", "[]")]
    edits = {
        "no format": lambda d: d.pop("format"),
        "future format": lambda d: d.update(format=3),
        "active kek not in ring": lambda d: d.update(active_kek="kmissing"),
        "no keks": lambda d: d.pop("keks"),
        "kek not base64": lambda d: d["keks"].update({d["active_kek"]: "***"}),
        "kek too short": lambda d: d["keks"].update({d["active_kek"]: "AAAA"}),
        "kek a number": lambda d: d["keks"].update({d["active_kek"]: 5}),
        "no index key": lambda d: d.pop("index_key"),
        "audit key too long": lambda d: d.update(audit_key="A" * 64),
    }
    for name, edit in edits.items():
        data = _valid_key_json()
        edit(data)
        cases.append((name, json.dumps(data)))
    return cases


BROKEN_KEY_FILES = _broken_key_files()


# Named by what is broken: the random keys in the text would give each pytest-xdist worker
# other test ids.
@pytest.mark.parametrize(("what", "text"), BROKEN_KEY_FILES, ids=[w for w, _ in BROKEN_KEY_FILES])
def test_malformed_key_file_raises_key_file_error(tmp_path, what, text):
    path = tmp_path / "kek"
    path.write_text(text)
    with pytest.raises(KeyFileError):
        read_key_file(path)
    with pytest.raises(KeyFileError):
        KeyRing(path)


def test_key_ring_rotate_adds_a_new_active_kek_and_keeps_the_old(tmp_path):
    path = tmp_path / "kek"
    write_key_file(path, KeyMaterial.generate())
    ring = KeyRing(path)
    old_id = ring.active_kek_id
    data_key, key_id = new_data_key(), uuid.uuid4()
    old_blob = wrap_data_key(old_id, ring.kek(old_id), key_id, data_key)

    new_id = ring.rotate()

    assert new_id != old_id
    assert ring.active_kek_id == new_id
    assert ring.kek(new_id) != ring.kek(old_id)
    assert unwrap_data_key(ring.kek(wrapped_kek_id(old_blob)), key_id, old_blob) == data_key
    on_disk = read_key_file(path)
    assert on_disk.active_kek_id == new_id
    assert set(on_disk.keks) == {old_id, new_id}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_ring_holds_several_keks_after_repeated_rotation(tmp_path):
    path = tmp_path / "kek"
    first = KeyMaterial.generate()
    write_key_file(path, first)
    ring = KeyRing(path)
    blobs = {}
    for _ in range(3):
        kek_id = ring.active_kek_id
        key_id = uuid.uuid4()
        blobs[key_id] = (wrap_data_key(kek_id, ring.kek(kek_id), key_id, b"K" * 32), kek_id)
        ring.rotate()
    assert len(read_key_file(path).keks) == 4
    fresh = KeyRing(path)  # a worker starting after the rotations
    for key_id, (blob, kek_id) in blobs.items():
        assert wrapped_kek_id(blob) == kek_id
        assert unwrap_data_key(fresh.kek(kek_id), key_id, blob) == b"K" * 32
    # The index and audit keys never rotate with the KEK: the indexes stay searchable.
    assert fresh.index_key == first.index_key
    assert fresh.audit_key == first.audit_key


def test_key_ring_sees_a_kek_another_process_added(tmp_path):
    path = tmp_path / "kek"
    write_key_file(path, KeyMaterial.generate())
    serving = KeyRing(path)
    new_id = KeyRing(path).rotate()  # `keys rotate` in another process
    assert serving.kek(new_id) == read_key_file(path).keks[new_id]


def test_key_ring_unknown_kek_raises_key_not_found(tmp_path):
    path = tmp_path / "kek"
    write_key_file(path, KeyMaterial.generate())
    with pytest.raises(KeyNotFound):
        KeyRing(path).kek("knothere")


def test_key_material_repr_shows_no_key(tmp_path: Path):
    # A key that reached a log or a traceback through repr() would be as good as published.
    material = KeyMaterial.generate().with_new_active_kek()
    shown = repr(material) + str(material)
    for key in [*material.keks.values(), material.index_key, material.audit_key]:
        assert repr(key) not in shown
        assert key.hex() not in shown
    for encoded in json.loads(material.to_json())["keks"].values():
        assert encoded not in shown


# ---- blind indexes -------------------------------------------------------------------------


def test_blind_index_is_deterministic():
    key = os.urandom(32)
    assert blind_index(key, "dui", "12345678-4") == blind_index(key, "dui", "12345678-4")


def test_blind_index_differs_by_purpose():
    key = os.urandom(32)
    values = {blind_index(key, purpose, "12345678-4") for purpose in ("dui", "name_dob")}
    values.add(blind_index(key, "status_code", "12345678-4"))
    assert len(values) == 3


def test_blind_index_differs_by_index_key():
    assert blind_index(os.urandom(32), "dui", "12345678-4") != blind_index(
        os.urandom(32), "dui", "12345678-4"
    )


def test_blind_index_is_truncated_hex_and_not_the_value():
    value = blind_index(os.urandom(32), "dui", "12345678-4")
    assert len(value) == INDEX_HEX_CHARS == 16
    assert all(ch in "0123456789abcdef" for ch in value)
    assert "12345678" not in value


def test_blind_index_of_different_values_differs():
    key = os.urandom(32)
    assert blind_index(key, "dui", "12345678-4") != blind_index(key, "dui", "04567891-1")


def test_blind_index_refuses_unknown_purpose():
    with pytest.raises(ValueError):
        blind_index(os.urandom(32), "address", "Colonia Las Palmeras")


def test_normalise_name_folds_case_accents_and_spaces():
    assert normalise_name("María  José") == "maria jose"
    assert normalise_name("  ÁNGELA   de   la O ") == "angela de la o"
    assert normalise_name("Núñez-Peña") == "nunez pena"


def test_name_dob_key_ignores_how_the_name_is_split():
    assert name_dob_key("María José", "López", "1994-03-15") == name_dob_key(
        "maria", "jose  LOPEZ", "1994-03-15"
    )
    assert name_dob_key("María José", "López", "1994-03-15") != name_dob_key(
        "María José", "López", "1994-03-16"
    )


# ---- DUI check digit ---------------------------------------------------------------------

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
eight_digits = st.text(alphabet="0123456789", min_size=8, max_size=8).filter(
    lambda body: body != "00000000"
)


def check_digit(body: str) -> int:
    return (10 - sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 10) % 10


@given(eight_digits)
def test_dui_with_computed_check_digit_is_valid(body):
    digit = check_digit(body)
    assert normalise_dui(f"{body}-{digit}") == f"{body}-{digit}"
    assert normalise_dui(f"{body}{digit}") == f"{body}-{digit}"


@given(eight_digits)
def test_dui_with_any_other_check_digit_is_invalid(body):
    right = check_digit(body)
    for digit in set(range(10)) - {right}:
        assert normalise_dui(f"{body}-{digit}") is None


@given(st.text(max_size=14))
def test_normalise_dui_never_raises_and_answers_canonical_form(text):
    result = normalise_dui(text)
    if result is not None:
        assert len(result) == 10
        assert result[8] == "-"
        assert result.replace("-", "").isascii()
        assert check_digit(result[:8]) == int(result[9])


@pytest.mark.parametrize("dui", ["12345678-4", "04567891-1", " 12345678-4 ", "123456784"])
def test_known_valid_duis(dui):
    assert normalise_dui(dui) == dui.strip().replace("-", "")[:8] + "-" + dui.strip()[-1]


@pytest.mark.parametrize(
    "dui", ["00000000-0", "12345678-5", "1234567-84", "12345678--4", "1234567a-4", "", "-"]
)
def test_known_invalid_duis(dui):
    assert normalise_dui(dui) is None


@pytest.mark.parametrize("dui", ["１２３４５６７８-４", "١٢٣٤٥٦٧٨-٤"])
def test_dui_in_non_ascii_digits_is_refused_or_folded_to_ascii(dui):
    # Kept as given, it would get another blind index than the same DUI in ASCII digits,
    # and the survivor a second record.
    assert normalise_dui(dui) in (None, "12345678-4")
