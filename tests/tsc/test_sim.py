#!/usr/bin/env python3
"""Drives the Tableau REST API simulator with Tableau's own Python client (tableauserverclient),
in XML, the way a real admin script would. Prints `N passed, M failed` and exits non-zero on
any failure.

Environment (run.sh sets it):
  SIM_URL            http://127.0.0.1:PORT
  SIM_SITE           site content URL ("" = default site)
  SIM_PAT_NAME, SIM_PAT_SECRET
  SIM_ADMIN, SIM_ADMIN_PASSWORD   a site administrator (also the JWT `sub`)
  SIM_APP_CLIENT_ID, SIM_APP_SECRET_ID, SIM_APP_SECRET
"""

import json
import os
import sys
import time
import traceback
import uuid

import jwt
import requests
import tableauserverclient as TSC
from tableauserverclient.server.endpoint.exceptions import XMLError, InternalServerError

URL = os.environ["SIM_URL"]
SITE = os.environ.get("SIM_SITE", "")
PAT_NAME = os.environ["SIM_PAT_NAME"]
PAT_SECRET = os.environ["SIM_PAT_SECRET"]
ADMIN = os.environ["SIM_ADMIN"]
ADMIN_PASSWORD = os.environ["SIM_ADMIN_PASSWORD"]
APP_CLIENT_ID = os.environ["SIM_APP_CLIENT_ID"]
APP_SECRET_ID = os.environ["SIM_APP_SECRET_ID"]
APP_SECRET = os.environ["SIM_APP_SECRET"]
RUN = uuid.uuid4().hex[:8]  # keeps names unique if the script runs twice against one sim

passed, failed = 0, 0


def case(fn):
    """Runs one check right away and records its outcome."""
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {fn.__name__}")
    except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
        failed += 1
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
    return fn


def expect_code(code, call):
    try:
        call()
    except XMLError as e:
        assert e.code == code, f"expected Tableau error {code}, got {e.code}: {e.summary} / {e.detail}"
        return e
    raise AssertionError(f"expected Tableau error {code}, the call succeeded")


def new_server():
    """The client's default flow: sign in at TSC's default API version (2.4), then switch to
    the server's version (what `use_server_version=True` does after sign-in)."""
    return TSC.Server(URL, use_server_version=True)


def pat_server():
    server = new_server()
    server.auth.sign_in(TSC.PersonalAccessTokenAuth(PAT_NAME, PAT_SECRET, site_id=SITE))
    return server


ADMIN_SCOPES = ("tableau:users:*", "tableau:groups:*", "tableau:content:read", "tableau:projects:update",
                "tableau:workbooks:update", "tableau:datasources:update", "tableau:flows:update")


def connected_app_jwt(sub=ADMIN, lifetime=300, scopes=ADMIN_SCOPES):
    now = int(time.time())
    claims = {"iss": APP_CLIENT_ID, "aud": "tableau", "sub": sub, "exp": now + lifetime,
              "jti": str(uuid.uuid4()), "scp": list(scopes)}
    headers = {"kid": APP_SECRET_ID, "iss": APP_CLIENT_ID}
    return jwt.encode(claims, APP_SECRET, algorithm="HS256", headers=headers)


def group_ref(group_id):
    """A GroupItem naming a group by id only (TSC has no public setter for the id)."""
    item = TSC.GroupItem("ghost")
    item._id = group_id
    return item


def control(method, path, body=None):
    response = requests.request(method, f"{URL}/_sim/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


# The session every check below uses: a connected-app JWT (PAT sessions get replaced in between).
main = new_server()
main.auth.sign_in(TSC.JWTAuth(connected_app_jwt(), site_id=SITE))
users_made = []


@case
def server_info_reports_the_api_version():
    info = main.server_info.get()
    assert info.rest_api_version == main.version, (info.rest_api_version, main.version)
    assert info.product_version


@case
def default_flow_signs_in_at_2_4_then_uses_the_server_version():
    for credentials in (TSC.PersonalAccessTokenAuth(PAT_NAME, PAT_SECRET, site_id=SITE),
                        TSC.JWTAuth(connected_app_jwt(), site_id=SITE),
                        TSC.TableauAuth(ADMIN, ADMIN_PASSWORD, site_id=SITE)):
        server = new_server()
        assert server.version == "2.4", server.version  # what the sign-in goes out at
        server.auth.sign_in(credentials)
        assert server.version == main.version != "2.4", (server.version, main.version)
        assert any(u.name == ADMIN for u in TSC.Pager(server.users))
        server.auth.sign_out()


@case
def pat_sign_in_lists_users():
    server = pat_server()
    names = [u.name for u in TSC.Pager(server.users)]
    assert PAT_NAME in names and ADMIN in names, names
    server.auth.sign_out()


@case
def new_pat_sign_in_invalidates_the_old_session():
    first = pat_server()
    second = pat_server()
    expect_code("401002", lambda: first.users.get())
    second.users.get()
    second.auth.sign_out()


@case
def password_sign_in_and_sessions_coexist():
    first, second = new_server(), new_server()
    first.auth.sign_in(TSC.TableauAuth(ADMIN, ADMIN_PASSWORD, site_id=SITE))
    second.auth.sign_in(TSC.TableauAuth(ADMIN, ADMIN_PASSWORD, site_id=SITE))
    first.users.get()
    second.users.get()
    me = first.users.get_by_id(first.user_id)
    assert me.name == ADMIN and me.site_role == "SiteAdministratorCreator", (me.name, me.site_role)
    assert me.last_login is not None
    first.auth.sign_out()
    second.auth.sign_out()


@case
def bad_credentials_fail_sign_in():
    server = new_server()
    expect_code("401001", lambda: server.auth.sign_in(TSC.PersonalAccessTokenAuth(PAT_NAME, "wrong", site_id=SITE)))
    expect_code("401001", lambda: server.auth.sign_in(TSC.PersonalAccessTokenAuth(PAT_NAME, PAT_SECRET, site_id="no-such-site")))


@case
def jwt_sign_in_is_checked_like_tableau():
    server = new_server()
    expect_code("401001", lambda: server.auth.sign_in(TSC.JWTAuth(connected_app_jwt(lifetime=20 * 60), site_id=SITE)))
    expect_code("401001", lambda: server.auth.sign_in(TSC.JWTAuth(connected_app_jwt(sub="nobody@example.com"), site_id=SITE)))
    expect_code("401001", lambda: server.auth.sign_in(TSC.JWTAuth(connected_app_jwt(lifetime=-60), site_id=SITE)))
    token = connected_app_jwt()
    server.auth.sign_in(TSC.JWTAuth(token, site_id=SITE))
    assert server.site_id and server.user_id
    server.users.get()
    expect_code("401001", lambda: new_server().auth.sign_in(TSC.JWTAuth(token, site_id=SITE)))  # jti replay


@case
def jwt_scopes_limit_methods():
    server = new_server()
    server.auth.sign_in(TSC.JWTAuth(connected_app_jwt(scopes=["tableau:users:read"]), site_id=SITE))
    server.users.get()
    expect_code("403000", lambda: server.groups.get())


@case
def add_users_and_page_through_them():
    for i in range(230):
        user = main.users.add(TSC.UserItem(f"user{i:03d}-{RUN}@example.com", "Viewer"))
        assert user.id and user.site_role == "Viewer"
        users_made.append(user)
    options = TSC.RequestOptions(pagesize=100)
    options.filter.add(TSC.Filter("siteRole", TSC.RequestOptions.Operator.Equals, "Viewer"))
    seen = [u.name for u in TSC.Pager(main.users, options)]
    mine = [n for n in seen if n.endswith(f"-{RUN}@example.com")]
    assert len(mine) == 230, len(mine)
    assert mine == sorted(mine)
    page3, pagination = main.users.get(TSC.RequestOptions(pagenumber=3, pagesize=100))
    assert pagination.page_number == 3 and pagination.total_available >= 230 and len(page3) >= 30


@case
def paging_errors():
    expect_code("403014", lambda: main.users.get(TSC.RequestOptions(pagesize=1001)))
    expect_code("400006", lambda: main.users.get(TSC.RequestOptions(pagenumber=1000, pagesize=100)))


@case
def filter_users_by_name():
    target = users_made[7]
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", TSC.RequestOptions.Operator.Equals, target.name))
    found, pagination = main.users.get(options)
    assert [u.id for u in found] == [target.id] and pagination.total_available == 1
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", TSC.RequestOptions.Operator.CaseInsensitiveEquals, target.name.upper()))
    assert [u.id for u in main.users.get(options)[0]] == [target.id]
    names = [users_made[1].name, users_made[2].name]
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", TSC.RequestOptions.Operator.In, names))
    assert sorted(u.name for u in main.users.get(options)[0]) == sorted(names)
    assert main.users.filter(name=target.name)[0].id == target.id


@case
def update_user_and_read_it_back():
    user = users_made[0]
    user.fullname = "Ada Lovelace"
    user.email = "ada@example.com"
    user.site_role = "Explorer"
    updated = main.users.update(user)
    assert updated.site_role == "Explorer" and updated.fullname == "Ada Lovelace"
    again = main.users.get_by_id(user.id)
    assert (again.email, again.fullname, again.site_role) == ("ada@example.com", "Ada Lovelace", "Explorer")
    assert again.domain_name == "local"
    all_fields = [u for u in main.users.get(TSC.RequestOptions(pagesize=1000))[0] if u.id == user.id]
    assert all_fields[0].email == "ada@example.com"  # TSC asks for fields=_all_


@case
def user_error_codes():
    expect_code("409000", lambda: main.users.add(TSC.UserItem(users_made[3].name, "Viewer")))
    expect_code("400013", lambda: main.users.add(TSC.UserItem(f"bad-role-{RUN}", "Publisher")))
    expect_code("404002", lambda: main.users.get_by_id("00000000-0000-4000-8000-000000000000"))
    expect_code("404002", lambda: main.users.remove("00000000-0000-4000-8000-000000000000"))


@case
def seats_downgrade_on_add_and_refuse_on_update():
    used = control("GET", "state")["seats"]["Creator"]["used"]
    control("PUT", "seats", {"Creator": used})
    try:
        user = main.users.add(TSC.UserItem(f"no-seat-{RUN}", "Creator"))
        assert user.site_role == "Unlicensed", user.site_role
        user.site_role = "Creator"
        expect_code("409014", lambda: main.users.update(user))
    finally:
        control("PUT", "seats", {"Creator": None})


@case
def removing_a_content_owner():
    owner = main.users.add(TSC.UserItem(f"owner-{RUN}", "Creator"))
    heir = users_made[4]
    control("PUT", f"users/{owner.id}/content")
    expect_code("409003", lambda: main.users.remove(owner.id))
    assert main.users.get_by_id(owner.id).site_role == "Unlicensed"
    main.users.remove(owner.id, map_assets_to=heir.id)
    expect_code("404002", lambda: main.users.get_by_id(owner.id))


def give(owner_id, kind, name, project_id=None):
    """The control API's way to give a user content; returns the item's LUID."""
    response = requests.post(f"{URL}/_sim/users/{owner_id}/content", timeout=10,
                             json={"kind": kind, "name": name, "projectId": project_id})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def owned_by(endpoint, owner_name):
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("ownerName", TSC.RequestOptions.Operator.Equals, owner_name))
    return sorted(item.name for item in TSC.Pager(endpoint, options))


@case
def content_is_listed_by_owner_and_moved():
    old = main.users.add(TSC.UserItem(f"old-{RUN}@example.com", "Creator"))
    new = main.users.add(TSC.UserItem(f"new-{RUN}@example.com", "Creator"))
    project = give(old.id, "project", f"Team-{RUN}")
    give(old.id, "workbook", "Sales", project)
    give(old.id, "workbook", "Costs", project)
    give(old.id, "datasource", "Orders", project)
    give(old.id, "flow", "Clean orders", project)
    assert owned_by(main.workbooks, old.name) == ["Costs", "Sales"]
    assert owned_by(main.datasources, old.name) == ["Orders"]
    assert owned_by(main.flows, old.name) == ["Clean orders"]
    assert owned_by(main.projects, old.name) == [f"Team-{RUN}"]
    main.users.populate_workbooks(old)
    workbooks = list(old.workbooks)
    assert sorted(w.name for w in workbooks) == ["Costs", "Sales"]
    assert all(w.owner_id == old.id and w.project_id == project for w in workbooks)
    # Change one workbook's owner item by item, the way TSC does it.
    sales = [w for w in workbooks if w.name == "Sales"][0]
    sales.owner_id = new.id
    assert main.workbooks.update(sales).owner_id == new.id
    assert main.workbooks.get_by_id(sales.id).owner_id == new.id
    assert owned_by(main.workbooks, new.name) == ["Sales"]
    orders = [d for d in TSC.Pager(main.datasources) if d.name == "Orders" and d.owner_id == old.id][0]
    orders.owner_id = new.id
    main.datasources.update(orders)
    assert owned_by(main.datasources, new.name) == ["Orders"]
    # The rest moves with Remove User ?mapAssetsTo=; without it the owner stays (409003).
    expect_code("409003", lambda: main.users.remove(old.id))
    main.users.remove(old.id, map_assets_to=new.id)
    assert owned_by(main.workbooks, new.name) == ["Costs", "Sales"]
    assert owned_by(main.flows, new.name) == ["Clean orders"]
    assert owned_by(main.projects, new.name) == [f"Team-{RUN}"]


@case
def grant_role_on_sign_in_group_blocks_demotion():
    item = TSC.GroupItem(f"Floor-{RUN}")
    item.minimum_site_role = "Explorer"
    group = main.groups.create(item)
    user = main.users.add(TSC.UserItem(f"floor-{RUN}@example.com", "Creator"))
    main.groups.add_user(group, user.id)
    user.site_role = "Viewer"
    error = expect_code("400012", lambda: main.users.update(user))
    assert user.id in error.detail, error.detail
    assert main.users.get_by_id(user.id).site_role == "Creator"
    main.groups.remove_user(group, user.id)
    assert main.users.update(user).site_role == "Viewer"


@case
def groups_create_rename_delete():
    group = main.groups.create(TSC.GroupItem(f"Finance-{RUN}"))
    assert group.id and group.name == f"Finance-{RUN}"
    expect_code("409009", lambda: main.groups.create(TSC.GroupItem(f"FINANCE-{RUN}")))
    group.name = f"Finance Analysts-{RUN}"
    renamed = main.groups.update(group)
    assert renamed.name == f"Finance Analysts-{RUN}"
    options = TSC.RequestOptions()
    options.filter.add(TSC.Filter("name", TSC.RequestOptions.Operator.Equals, renamed.name))
    found, _ = main.groups.get(options)
    assert [g.id for g in found] == [group.id]
    main.groups.delete(group.id)
    expect_code("404012", lambda: main.groups.delete(group.id))
    expect_code("404012", lambda: main.groups.update(group))


@case
def all_users_group_is_built_in():
    groups = list(TSC.Pager(main.groups))
    all_users = [g for g in groups if g.name == "All Users"]
    assert len(all_users) == 1
    assert all_users[0].user_count >= 230
    main.groups.populate_users(all_users[0])
    assert len(list(all_users[0].users)) >= 230


@case
def group_members_single_and_bulk():
    item = TSC.GroupItem(f"Members-{RUN}")
    item.minimum_site_role = "Viewer"
    group = main.groups.create(item)
    one = users_made[10]
    added = main.groups.add_user(group, one.id)
    assert added.id == one.id and added.name == one.name
    expect_code("409011", lambda: main.groups.add_user(group, one.id))
    expect_code("404002", lambda: main.groups.add_user(group, "00000000-0000-4000-8000-000000000000"))
    bulk = users_made[20:45]
    result = main.groups.add_users(group, [u.id for u in bulk])
    assert sorted(u.id for u in result) == sorted(u.id for u in bulk)
    main.groups.populate_users(group, TSC.RequestOptions(pagesize=10))
    members = list(group.users)
    assert len(members) == 26, len(members)
    main.users.populate_groups(one)
    assert {g.name for g in one.groups} == {"All Users", f"Members-{RUN}"}
    main.groups.remove_user(group, one.id)
    main.groups.remove_users(group, [u.id for u in bulk[:20]])
    main.groups.populate_users(group)
    assert sorted(u.id for u in group.users) == sorted(u.id for u in bulk[20:])
    fetched = [g for g in TSC.Pager(main.groups) if g.id == group.id][0]
    assert fetched.user_count == 5 and fetched.minimum_site_role == "Viewer"
    expect_code("404012", lambda: main.groups.remove_user(group_ref("00000000-0000-4000-8000-000000000000"), one.id))


@case
def bulk_methods_need_api_3_21():
    server = TSC.Server(URL)
    server.version = "3.20"
    server.auth.sign_in(TSC.JWTAuth(connected_app_jwt(), site_id=SITE))
    group = server.groups.create(TSC.GroupItem(f"Old-{RUN}"))
    # TSC refuses to call a 3.21 method on 3.20, so speak to the endpoint directly.
    body = f'<tsRequest><users><user id="{users_made[0].id}"/></users></tsRequest>'
    headers = {"X-Tableau-Auth": server.auth_token, "Content-Type": "text/xml"}
    base = f"{URL}/api/3.20/sites/{server.site_id}/groups/{group.id}/users"
    response = requests.put(f"{base}/remove", data=body, headers=headers, timeout=10)
    assert response.status_code == 404 and 'code="404003"' in response.text, response.text
    response = requests.post(base, data=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text


@case
def wrong_site_and_unknown_resource():
    headers = {"X-Tableau-Auth": main.auth_token}
    response = requests.get(f"{URL}/api/{main.version}/sites/00000000-0000-4000-8000-000000000000/users", headers=headers, timeout=10)
    assert 'code="404000"' in response.text, response.text
    response = requests.get(f"{URL}/api/{main.version}/sites/{main.site_id}/flows-of-joy", headers=headers, timeout=10)
    assert 'code="404003"' in response.text, response.text
    response = requests.get(f"{URL}/api/{main.version}/sites/{main.site_id}/users", timeout=10)
    assert 'code="401000"' in response.text, response.text


@case
def injected_faults_surface_as_tableau_errors():
    control("POST", "faults", {"spec": "GET:/api/*/sites/*/groups=429:1"})
    try:
        expect_code("429000", lambda: main.groups.get())
    finally:
        control("DELETE", "faults")
    control("POST", "faults", {"spec": "GET:/api/*/sites/*/groups=503:1"})
    try:
        main.groups.get()
        raise AssertionError("expected a 503")
    except InternalServerError as e:
        assert e.code == 503
    finally:
        control("DELETE", "faults")
    main.groups.get()


@case
def remove_users_and_sign_out():
    for user in users_made[200:]:
        main.users.remove(user.id)
    expect_code("404002", lambda: main.users.get_by_id(users_made[200].id))
    server = pat_server()
    token = server.auth_token
    server.auth.sign_out()
    response = requests.get(f"{URL}/api/{main.version}/sites/{main.site_id}/users", headers={"X-Tableau-Auth": token}, timeout=10)
    assert 'code="401002"' in response.text, response.text


main.auth.sign_out()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
