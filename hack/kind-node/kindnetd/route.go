package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

// routeReplace is `ip route replace CIDR via GW`, over rtnetlink.
func routeReplace(cidr, gw string) error {
	_, dst, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	gwIP := net.ParseIP(gw).To4()
	if dst.IP.To4() == nil || gwIP == nil {
		return fmt.Errorf("only IPv4 is routed")
	}
	ones, _ := dst.Mask.Size()
	rt := syscall.RtMsg{
		Family: syscall.AF_INET, Dst_len: uint8(ones), Table: syscall.RT_TABLE_MAIN,
		Protocol: syscall.RTPROT_BOOT, Scope: syscall.RT_SCOPE_UNIVERSE, Type: syscall.RTN_UNICAST,
	}
	body := (*[syscall.SizeofRtMsg]byte)(unsafe.Pointer(&rt))[:]
	body = append(body, rtattr(syscall.RTA_DST, dst.IP.To4())...)
	body = append(body, rtattr(syscall.RTA_GATEWAY, gwIP)...)
	hdr := syscall.NlMsghdr{
		Len:   uint32(syscall.SizeofNlMsghdr + len(body)),
		Type:  syscall.RTM_NEWROUTE,
		Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_ACK | syscall.NLM_F_CREATE | syscall.NLM_F_REPLACE,
		Seq:   1,
	}
	msg := append((*[syscall.SizeofNlMsghdr]byte)(unsafe.Pointer(&hdr))[:], body...)
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
				return syscall.Errno(-code)
			}
		}
	}
	return nil
}

func rtattr(typ uint16, data []byte) []byte {
	l := syscall.SizeofRtAttr + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], data)
	return b
}
