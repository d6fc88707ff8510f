from tests.factories import intake


def test_pnc_agent_opens_a_case_and_reads_it_back(client, pnc):
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["matched_existing"] is False
    assert body["number"].startswith("SON-2026-")
    read = client.get(f"/api/v1/cases/{body['id']}", headers=pnc.headers)
    assert read.status_code == 200, read.get_json()
    record = read.get_json()
    assert record["survivor"]["given_names"] == "María José"
    assert record["incidents"][0]["narrative"].startswith("Relato")
