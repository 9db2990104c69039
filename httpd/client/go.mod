module github.com/minidbgo/minidbgo/httpd/client

go 1.23
