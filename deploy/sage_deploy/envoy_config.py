"""Envoy's bootstrap configuration for the mesh, and its endpoint (EDS) files.

Each gRPC service gets a cluster routed by its path prefix (``/sage.kv.v1.KVService/``),
HTTP/2 upstream, actively health-checked with grpc.health.v1. In front of the router,
grpc-web (browsers) and the gRPC-JSON transcoder, which turns the JSON/HTTP requests that a
``google.api.http`` rule maps into gRPC calls and lets every other request through. Cluster members are
read from one EDS file per service, which ``envoy_sync`` rewrites atomically
from etcd whenever instances come and go (Envoy reloads a watched file on rename).

A service may also get a *passthrough* listener of its own: Envoy at L4 (``tcp_proxy``), handing
each client connection to a healthy instance of the same cluster and copying bytes both ways. It
skips the two HTTP/2 codecs of the L7 route, which are most of what the hop costs (docs/vdb.md),
at the price of balancing per connection rather than per call and of the L7 filters (grpc-web,
JSON): it is the route for high-rate gRPC clients of the data plane, the VDB's searches above all.

gRPC server reflection (``/grpc.reflection.``) goes to one cluster's healthy instances: every
server reflects the descriptors of the whole mesh, so ``grpcurl ENVOY list`` lists every service.

Hardening of the public listener: the admin interface listens on 127.0.0.1 only; the one virtual
host answers only the configured host names (``server_names``, each with and without the port),
so a page that rebinds its own DNS name to this machine gets 404; a client that is slow to send
its headers is cut after ``request_headers_timeout_s``; the overload manager caps downstream
connections; and a local reply for ``/v1/`` (the gateway down or draining) is an OpenAI-shaped
JSON error instead of plain text. Headers, ``authorization`` included, reach the services as sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_GRPC_WEB = "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"
_TRANSCODER = (
    "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
)
_HTTP_OPTS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
_DOWNSTREAM_CONNECTIONS = (
    "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3."
    "DownstreamConnectionsConfig"
)
ADMIN_HOST = "127.0.0.1"  # never another interface: the admin API has no auth
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1")
REFLECTION_PREFIX = "/grpc.reflection."  # v1alpha and v1 (grpcurl list / describe)


@dataclass(frozen=True)
class EnvoyLimits:
    """Timeouts and caps of the public listener (topology.yaml: infrastructure.envoy.limits)."""

    request_headers_timeout_s: float = 10.0  # the whole request headers must arrive within this
    stream_idle_timeout_s: float = 300.0  # a stream with no bytes either way for this long is reset
    idle_timeout_s: float = 3600.0  # a connection with no stream for this long is closed
    max_connections: int = (
        10000  # downstream connections, all listeners together (overload manager)
    )


def _seconds(value: float) -> str:
    return f"{value:g}s"


def server_domains(names: Iterable[str], port: int) -> list[str]:
    """The virtual host's domains: each host name as such and with ``:port``."""
    out: list[str] = []
    for name in names:
        for domain in (name, f"{name}:{port}"):
            if domain not in out:
                out.append(domain)
    return out


def openai_local_replies() -> dict:
    """Envoy's own 503 for ``/v1/`` (no healthy gateway) as the OpenAI API shapes its errors."""
    return {
        "mappers": [
            {
                "filter": {
                    "and_filter": {
                        "filters": [
                            {
                                "status_code_filter": {
                                    "comparison": {
                                        "op": "EQ",
                                        "value": {
                                            "default_value": 503,
                                            "runtime_key": "mesh.local_reply.v1_unavailable",
                                        },
                                    }
                                }
                            },
                            {
                                "header_filter": {
                                    "header": {"name": ":path", "string_match": {"prefix": "/v1/"}}
                                }
                            },
                        ]
                    }
                },
                "body_format_override": {
                    "json_format": {
                        "error": {
                            "message": "the service is unavailable: %LOCAL_REPLY_BODY%",
                            "type": "service_unavailable",
                            "code": "service_unavailable",
                        }
                    },
                    "content_type": "application/json",
                },
            }
        ]
    }


def eds_path(eds_dir: Path, service: str) -> Path:
    return eds_dir / f"{service}.yaml"


def _cluster(
    service: str, health_service: str, eds_dir: Path, http2: bool, passthrough: bool = False
) -> dict:
    cluster: dict = {
        "name": service,
        "type": "EDS",
        "connect_timeout": "1s",
        "eds_cluster_config": {
            "service_name": service,
            "eds_config": {
                "resource_api_version": "V3",
                "path_config_source": {
                    "path": str(eds_path(eds_dir, service)),
                    "watched_directory": {"path": str(eds_dir)},
                },
            },
        },
        "outlier_detection": {
            "consecutive_5xx": 3,
            "consecutive_gateway_failure": 1,
            "base_ejection_time": "5s",
            "interval": "1s",
        },
    }
    if passthrough:
        # A passthrough connection is bound to one instance for its life: when the health check
        # fails that instance, Envoy closes its connections, so clients reconnect to a live one
        # instead of waiting on a dead one.
        cluster["close_connections_on_host_health_failure"] = True
    check = {
        "timeout": "1s",
        "interval": "1s",
        "no_traffic_interval": "1s",
        "unhealthy_threshold": 1,
        "healthy_threshold": 1,
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTS,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
        cluster["health_checks"] = [
            {**check, "grpc_health_check": {"service_name": health_service}}
        ]
    else:
        # HTTP services (the gateway) answer /healthz: 200 serving, 503 draining.
        cluster["health_checks"] = [{**check, "http_health_check": {"path": "/healthz"}}]
    return cluster


def tls_transport_socket(cert_path: str, key_path: str) -> dict:
    """Envoy terminates TLS with this certificate chain and private key (PEM files)."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _TLS,
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": cert_path},
                        "private_key": {"filename": key_path},
                    }
                ],
            },
        },
    }


def json_transcoder(descriptor_path: str, services: Sequence[str]) -> dict:
    """The gRPC-JSON transcoder for ``services`` (full proto names), reading the descriptor set
    (``sage_deploy.descriptors``) at ``descriptor_path``."""
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": _TRANSCODER,
            "proto_descriptor": descriptor_path,
            "services": list(services),
            # proto3 JSON: lowerCamelCase names, enums by name, bytes as base64, 64-bit integers as
            # strings; fields at their default value are printed too, so every answer has every field.
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": False,
            },
            # An error status answers with its HTTP mapping (NOT_FOUND 404, INVALID_ARGUMENT 400, ...)
            # and a JSON google.rpc.Status body, details (ErrorInfo, BadRequest) included.
            "convert_grpc_status": True,
            # A variable that spans segments (the KV key, `{key=**}`) is decoded in full: %2F, %3F, ...
            # are the key's own characters, as a single-segment variable's always are.
            "url_unescape_spec": "ALL_CHARACTERS",
            "request_validation_options": {
                # A request that no rule maps (gRPC, grpc-web, the gateway's /v1/chat/...) goes on to
                # its route untouched; rejecting it here would hide every other route.
                "reject_unknown_method": False,
                # A query parameter that names no field is a client's mistake: 400, not a silent pass.
                "reject_unknown_query_parameters": True,
                # A field given both in the path and in the body with different values: 400.
                "reject_binding_body_field_collisions": True,
            },
        },
    }


def _listener(
    name: str, host: str, port: int, filters: list[dict], transport_socket: dict | None
) -> dict:
    chain: dict = {"filters": filters}
    if transport_socket is not None:
        chain["transport_socket"] = transport_socket
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [chain],
    }


def passthrough_listener(service: str, port: int, host: str, transport_socket: dict | None) -> dict:
    """An L4 listener on ``port`` that hands each connection to a healthy instance of ``service``."""
    return _listener(
        f"{service}-passthrough",
        host,
        port,
        [
            {
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": _TCP_PROXY,
                    "stat_prefix": f"{service}_passthrough",
                    "cluster": service,
                },
            }
        ],
        transport_socket,
    )


def reflection_cluster(grpc_services: Mapping[str, str]) -> str | None:
    """The cluster that answers gRPC reflection at the front door: any healthy instance knows the
    whole mesh (``sage_runtime.reflection``), so the KV's when there is one, else the first."""
    if not grpc_services:
        return None
    return "kv" if "kv" in grpc_services else sorted(grpc_services)[0]


def bootstrap(
    listen_port: int,
    admin_port: int,
    eds_dir: Path,
    grpc_services: Mapping[str, str],
    http_routes: Sequence[tuple[str, str]] = (),
    host: str = "127.0.0.1",
    tls_cert: str = "",
    tls_key: str = "",
    json_services: Sequence[str] = (),
    descriptor_path: str = "",
    passthrough: Mapping[str, int] | None = None,
    server_names: Sequence[str] = DEFAULT_SERVER_NAMES,
    limits: EnvoyLimits | None = None,
) -> dict:
    """``grpc_services`` maps a discovery name ("kv") to its full proto name ("sage.kv.v1.KVService");
    ``http_routes`` lists (path prefix, discovery name) pairs for plain HTTP services. With
    ``tls_cert`` and ``tls_key`` (PEM paths) the listeners speak TLS. ``json_services`` (full proto
    names) are transcoded from JSON/HTTP with the descriptor set at ``descriptor_path``.
    ``passthrough`` maps gRPC services (discovery names) to the port of their L4 listener.
    ``server_names``: the host names (``Host``/``:authority``) the listener answers, with or without
    the port; ``limits``: its timeouts and connection cap (default ``EnvoyLimits()``)."""
    if bool(tls_cert) != bool(tls_key):
        raise ValueError(
            "TLS needs both a certificate and a private key path (tls_cert and tls_key)"
        )
    if json_services and not descriptor_path:
        raise ValueError("JSON transcoding needs the path of a descriptor set (descriptor_path)")
    passthrough = dict(passthrough or {})
    limits = limits or EnvoyLimits()
    if not server_names:
        raise ValueError("the listener needs at least one host name to answer (server_names)")
    unknown = sorted(set(passthrough) - set(grpc_services))
    if unknown:
        raise ValueError(
            f"a passthrough listener needs a gRPC service of the mesh; not one: {', '.join(unknown)} "
            f"(gRPC services: {', '.join(sorted(grpc_services))})"
        )
    routes = [
        {"match": {"prefix": f"/{full}/"}, "route": {"cluster": name, "timeout": "0s"}}
        for name, full in sorted(grpc_services.items())
    ]
    reflection = reflection_cluster(grpc_services)
    if reflection:
        routes.append(
            {
                "match": {"prefix": REFLECTION_PREFIX},
                "route": {"cluster": reflection, "timeout": "0s"},
            }
        )
    routes += [
        {"match": {"prefix": prefix}, "route": {"cluster": name, "timeout": "0s"}}
        for prefix, name in http_routes
    ]
    clusters = [
        _cluster(name, full, eds_dir, http2=True, passthrough=name in passthrough)
        for name, full in sorted(grpc_services.items())
    ]
    clusters += [_cluster(name, "", eds_dir, http2=False) for _, name in http_routes]
    manager = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": _HCM,
            "stat_prefix": "mesh",
            "codec_type": "AUTO",
            "stream_idle_timeout": _seconds(limits.stream_idle_timeout_s),
            "request_headers_timeout": _seconds(limits.request_headers_timeout_s),
            "common_http_protocol_options": {"idle_timeout": _seconds(limits.idle_timeout_s)},
            # No "*": another Host (a DNS-rebinding page's) matches no virtual host and gets 404.
            "route_config": {
                "name": "mesh",
                "virtual_hosts": [
                    {
                        "name": "mesh",
                        "domains": server_domains(server_names, listen_port),
                        "routes": routes,
                    }
                ],
            },
            "local_reply_config": openai_local_replies(),
            # grpc-web first: what it turns into gRPC, the transcoder then lets through as gRPC.
            "http_filters": [
                {"name": "envoy.filters.http.grpc_web", "typed_config": {"@type": _GRPC_WEB}},
                *([json_transcoder(descriptor_path, json_services)] if json_services else []),
                {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}},
            ],
        },
    }
    tls = tls_transport_socket(tls_cert, tls_key) if tls_cert else None
    listeners = [_listener("mesh", host, listen_port, [manager], tls)]
    listeners += [
        passthrough_listener(name, port, host, tls) for name, port in sorted(passthrough.items())
    ]
    return {
        "node": {"id": "sage-mesh-envoy", "cluster": "sage-mesh"},
        "admin": {"address": {"socket_address": {"address": ADMIN_HOST, "port_value": admin_port}}},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _DOWNSTREAM_CONNECTIONS,
                        "max_active_downstream_connections": limits.max_connections,
                    },
                }
            ]
        },
        "static_resources": {
            "listeners": listeners,
            "clusters": clusters,
        },
    }


def load_assignment(service: str, addresses: Iterable[str]) -> dict:
    endpoints = []
    for address in sorted(addresses):
        host, _, port = address.rpartition(":")
        endpoints.append(
            {
                "endpoint": {
                    "address": {"socket_address": {"address": host, "port_value": int(port)}}
                }
            }
        )
    return {
        "resources": [
            {"@type": _CLA, "cluster_name": service, "endpoints": [{"lb_endpoints": endpoints}]}
        ]
    }


def write_atomic(path: Path, data: dict | bytes) -> None:
    """Write YAML (a dict) or raw bytes through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(
        data if isinstance(data, bytes) else yaml.safe_dump(data, sort_keys=False).encode()
    )
    tmp.replace(path)


def write_eds(eds_dir: Path, service: str, addresses: Iterable[str]) -> None:
    eds_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(eds_path(eds_dir, service), load_assignment(service, addresses))
