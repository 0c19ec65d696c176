module gor

go 1.19
