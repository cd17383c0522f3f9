#!/bin/sh
# Regenerates the real-server samples in this folder (see README.md): nginx, Apache, HAProxy,
# Caddy and rsyslog on loopback ports, configured in a temporary folder, sent a few curl
# requests. Needs: apt-get install nginx apache2 haproxy caddy rsyslog curl (Debian 12).
# Usage: sh capture.sh OUTDIR   (run as root: Apache and rsyslog want it)
set -eu
OUT=$(realpath "$1")
D=$(mktemp -d /tmp/sg-capture-XXXXXX)
NG=18471 AP=18472 HA=18473 CA=18474 SY=18475
mkdir -p "$D/www" "$D/tmp"
echo ok > "$D/www/index.html"

# rsyslog: receives nginx's and HAProxy's syslog datagrams; writes the traditional (RFC 3164)
# file format and RFC 5424 side by side, as two deployments would.
cat > "$D/rsyslog.conf" <<EOF
global(workDirectory="$D")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$SY")
:programname, isequal, "nginx" action(type="omfile" file="$D/nginx-syslog.log" template="RSYSLOG_TraditionalFileFormat")
:programname, isequal, "nginx" action(type="omfile" file="$D/nginx-syslog5424.log" template="RSYSLOG_SyslogProtocol23Format")
:programname, isequal, "haproxy" action(type="omfile" file="$D/haproxy.log" template="RSYSLOG_TraditionalFileFormat")
EOF
rsyslogd -f "$D/rsyslog.conf" -i "$D/rsyslog.pid"

cat > "$D/nginx.conf" <<EOF
pid $D/nginx.pid;
error_log $D/nginx-error.log;
events {}
http {
  client_body_temp_path $D/tmp; proxy_temp_path $D/tmp; fastcgi_temp_path $D/tmp;
  uwsgi_temp_path $D/tmp; scgi_temp_path $D/tmp;
  log_format custom '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status '
                    '\$body_bytes_sent "\$http_referer" "\$http_user_agent" '
                    'rt=\$request_time uct="\$upstream_connect_time" urt="\$upstream_response_time" '
                    'xff="\$http_x_forwarded_for" sid=\$cookie_sid host=\$host';
  log_format iso '\$time_iso8601 \$msec \$remote_addr \$request_method \$request_uri '
                 'uri=\$uri args=\$args \$status \$bytes_sent \$request_time "\$http_user_agent"';
  log_format hosted '\$host \$remote_addr - \$remote_user [\$time_local] "\$request" \$status '
                    '\$body_bytes_sent "\$http_referer" "\$http_user_agent"';
  server {
    listen 127.0.0.1:$NG;
    server_name shop.example;
    access_log $D/nginx-custom.log custom;
    access_log $D/nginx-iso.log iso;
    access_log $D/nginx-host.log hosted;
    access_log syslog:server=127.0.0.1:$SY,tag=nginx combined;
    location /proxy/ { proxy_pass http://127.0.0.1:$NG/; }
    location /missing { return 404; }
    location / { return 200 "ok\n"; }
  }
}
EOF
nginx -c "$D/nginx.conf"

cat > "$D/apache.conf" <<EOF
ServerRoot $D
DefaultRuntimeDir $D
PidFile $D/apache.pid
Listen 127.0.0.1:$AP
ServerName shop.example
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
ErrorLog $D/apache-error.log
DocumentRoot $D/www
<Directory $D/www>
  Require all granted
</Directory>
LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
CustomLog $D/apache-vhost_combined.log vhost_combined
EOF
chmod 755 "$D" "$D/www"
apache2 -f "$D/apache.conf" -k start

cat > "$D/haproxy.cfg" <<EOF
global
  log 127.0.0.1:$SY local0
  pidfile $D/haproxy.pid
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend shop
  bind 127.0.0.1:$HA
  default_backend app
backend app
  server nginx1 127.0.0.1:$NG
EOF
haproxy -f "$D/haproxy.cfg" -D

cat > "$D/Caddyfile" <<EOF
{
  admin off
  auto_https off
}
http://127.0.0.1:$CA {
  log {
    output file $D/caddy.log
    format json
  }
  respond /missing 404
  respond "ok"
}
EOF
XDG_DATA_HOME=$D XDG_CONFIG_HOME=$D caddy start --config "$D/Caddyfile" --adapter caddyfile \
  --pidfile "$D/caddy.pid" >/dev/null 2>&1
sleep 1

UA='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
for port in $NG $AP $HA $CA; do
  base=http://127.0.0.1:$port
  curl -s -o /dev/null -A "$UA" -e "https://shop.example/search?q=anna" \
    -H 'X-Forwarded-For: 198.51.100.23' -b 'sid=s_41f2' "$base/user/42?x=1&y=2"
  curl -s -o /dev/null -A 'curl/7.88.1' "$base/"
  curl -s -o /dev/null -A 'python-requests/2.31.0' -d 'user=u_889&pass=x' "$base/api/login"
  curl -s -o /dev/null -I -A 'Go-http-client/1.1' "$base/index.html"
  curl -s -o /dev/null -A 'Scraper "quoted" agent' "$base/missing?id=7"
  curl -s -o /dev/null -H 'Host: www.shop.example' -A "$UA" "$base/proxy/user/43"
done
sleep 1

kill "$(cat "$D/nginx.pid")" "$(cat "$D/haproxy.pid")" "$(cat "$D/caddy.pid")" 2>/dev/null || true
apache2 -f "$D/apache.conf" -k stop
sleep 1
kill "$(cat "$D/rsyslog.pid")"
sleep 1
for f in nginx-custom nginx-iso nginx-host nginx-syslog nginx-syslog5424 apache-vhost_combined \
         haproxy caddy; do
  cp "$D/$f.log" "$OUT/$f.log"
done
cp "$D/nginx.conf" "$OUT/nginx.conf"
sed -i "s|$D|/tmp/sg-capture|g" "$OUT/nginx.conf"
rm -rf "$D"
