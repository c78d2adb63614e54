#!/usr/bin/perl
#  haltgslb — build City-style and ASN-style MaxMind DB files from a text mapping.
#  SPDX-License-Identifier: GPL-3.0-or-later
#
#  Usage: mkmmdb.pl [--ipv4] [--record-size 24|28|32] --city OUT.mmdb
#                   [--asn OUT-asn.mmdb] MAPPING.txt
#
#  Default: IPv6 trees with IPv4 in ::/96, like MaxMind's City and ASN files.
#  --ipv4 writes IPv4-only trees (like old country databases); IPv6 lines of
#  the mapping are then skipped.
#
#  Mapping: one network per line, '#' starts a comment, '-' marks an absent field:
#    NETWORK  CONTINENT COUNTRY SUBDIVISION LAT    LON     ASN
#    203.0.113.128/25 AS ID     ID-JK       -6.21  106.85  64500
#  The records follow the GeoIP2-City / GeoLite2-ASN layouts that libmaxminddb
#  readers (and shared/geo.c) expect. Output files are written atomically.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use MaxMind::DB::Writer::Tree;
use Net::Works::Network;

sub fail;

my ( $city_out, $asn_out, $ipv4, $help );
my $record_size = 28;
GetOptions(
    'ipv4'   => \$ipv4,
    'record-size=i' => \$record_size,
    'city=s' => \$city_out,
    'asn=s'  => \$asn_out,
    'help|h' => \$help,
) or usage(2);
usage(0) if $help;
usage(2) unless @ARGV == 1 && ( defined $city_out || defined $asn_out );
fail "--record-size must be 24, 28 or 32\n" unless $record_size =~ /^(24|28|32)$/;

my $mapping = $ARGV[0];

# Types of every map key the records use (the writer needs them up front).
my %types = (
    continent                      => 'map',
    country                        => 'map',
    subdivisions                   => [ 'array', 'map' ],
    location                       => 'map',
    code                           => 'utf8_string',
    iso_code                       => 'utf8_string',
    latitude                       => 'double',
    longitude                      => 'double',
    accuracy_radius                => 'uint16',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

sub new_tree {
    my ( $type, $desc ) = @_;
    return MaxMind::DB::Writer::Tree->new(
        ip_version    => $ipv4 ? 4 : 6,
        record_size   => $record_size,
        database_type => $type,
        languages     => ['en'],
        description   => { en => $desc },
        # IPv4 lives in ::/96; ::ffff:0:0/96 and 6to4/Teredo alias to it, as
        # in MaxMind's own databases.
        alias_ipv6_to_ipv4 => $ipv4 ? 0 : 1,
        # The test data is made of documentation, private and loopback ranges.
        remove_reserved_networks => 0,
        map_key_type_callback    => sub { $types{ $_[0] } },
    );
}

my $city = defined $city_out
    ? new_tree( 'GeoIP2-City', 'haltgslb test/demo City database' )
    : undef;
my $asn = defined $asn_out
    ? new_tree( 'GeoLite2-ASN', 'haltgslb test/demo ASN database' )
    : undef;

open my $in, '<', $mapping or fail "cannot open $mapping: $!\n";
my ( %seen, $count );
while ( my $line = <$in> ) {
    my $lineno = $.;
    $line =~ s/#.*//;
    $line =~ s/^\s+|\s+$//g;
    next if $line eq '';

    my @f = split /\s+/, $line;
    my $where = "$mapping:$lineno";
    fail "$where: expected 7 fields (NETWORK CONTINENT COUNTRY"
        . " SUBDIVISION LAT LON ASN), got " . scalar(@f) . "\n"
        unless @f == 7;
    my ( $net, $cont, $cc, $sub, $lat, $lon, $asnum ) = @f;

    my $cidr = parse_network( $net, $where );
    next if $ipv4 && $cidr =~ /:/;
    fail "$where: network $cidr listed twice\n" if $seen{$cidr}++;

    check( $cont, qr/^(AF|AN|AS|EU|NA|OC|SA)$/, 'continent (AF AN AS EU NA OC SA)', $where );
    check( $cc,   qr/^[A-Z]{2}$/,               'country (ISO 3166-1 alpha-2)',     $where );
    check( $sub,  qr/^[A-Z]{2}-[A-Z0-9]{1,3}$/, 'subdivision (ISO 3166-2 CC-SSS)',  $where );
    check( $lat,  qr/^-?\d+(\.\d+)?$/,          'latitude',                         $where );
    check( $lon,  qr/^-?\d+(\.\d+)?$/,          'longitude',                        $where );
    check( $asnum, qr/^\d+$/,                   'ASN',                              $where );

    my %rec;
    $rec{continent} = { code => $cont } if $cont ne '-';
    $rec{country} = { iso_code => $cc } if $cc ne '-';
    if ( $sub ne '-' ) {
        my ( $sub_cc, $sub_code ) = split /-/, $sub, 2;
        fail "$where: subdivision $sub is not in country $cc\n"
            unless $cc eq $sub_cc;
        # MaxMind stores the part after "CC-".
        $rec{subdivisions} = [ { iso_code => $sub_code } ];
    }
    fail "$where: give both LAT and LON or neither\n"
        if ( $lat eq '-' ) != ( $lon eq '-' );
    if ( $lat ne '-' ) {
        fail "$where: latitude $lat out of range\n"   if abs($lat) > 90;
        fail "$where: longitude $lon out of range\n" if abs($lon) > 180;
        $rec{location} = {
            latitude        => 0 + $lat,
            longitude       => 0 + $lon,
            accuracy_radius => 50,
        };
    }
    fail "$where: ASN $asnum out of range\n"
        if $asnum ne '-' && ( $asnum < 1 || $asnum > 4294967295 );

    if ( $city && %rec ) {
        $city->insert_network( $cidr, \%rec );
    }
    if ( $asn && $asnum ne '-' ) {
        $asn->insert_network(
            $cidr,
            {
                autonomous_system_number       => 0 + $asnum,
                autonomous_system_organization => "haltgslb test AS$asnum",
            }
        );
    }
    $count++;
}
close $in;
fail "$mapping: no networks\n" unless $count;

write_db( $city, $city_out ) if $city;
write_db( $asn,  $asn_out )  if $asn;
exit 0;

sub usage {
    my ($code) = @_;
    my $fh = $code ? \*STDERR : \*STDOUT;
    print {$fh} "usage: $0 [--ipv4] [--record-size 24|28|32] --city OUT.mmdb [--asn OUT-asn.mmdb] MAPPING.txt\n";
    exit $code;
}

sub check {
    my ( $val, $re, $what, $where ) = @_;
    return if $val eq '-' || $val =~ $re;
    fail "$where: bad $what '$val'\n";
}

# Normalise to "address/len"; reject host bits set so a typo in the mapping
# does not silently move a network.
sub parse_network {
    my ( $text, $where ) = @_;
    fail "$where: network '$text' needs a /prefix\n"
        unless $text =~ m{^([0-9A-Fa-f:.]+)/(\d+)$};
    my ( $addr, $len ) = ( $1, $2 );
    my $v6  = $addr =~ /:/;
    my $max = $v6 ? 128 : 32;
    fail "$where: prefix /$len too long for '$addr'\n" if $len > $max;
    my $net = eval {
        Net::Works::Network->new_from_string(
            string  => "$addr/$len",
            version => $v6 ? 6 : 4,
        );
    };
    fail "$where: bad network '$text'\n" unless $net;
    my $norm = $net->first->as_string . "/$len";
    fail "$where: '$text' has host bits set (network is "
        . $net->first->as_string . "/$len)\n"
        unless lc( $net->first->as_string ) eq lc( canon( $addr, $v6 ) );
    return $norm;
}

sub canon {
    my ( $addr, $v6 ) = @_;
    return Net::Works::Address->new_from_string(
        string  => $addr,
        version => $v6 ? 6 : 4,
    )->as_string;
}

sub write_db {
    my ( $tree, $out ) = @_;
    my $tmp = "$out.tmp$$";
    open my $fh, '>:raw', $tmp or fail "cannot write $tmp: $!\n";
    my $ok = eval { $tree->write_tree($fh); 1 };
    my $err = $@;
    if ( !close($fh) || !$ok ) {
        my $why = $ok ? "$!" : $err;
        unlink $tmp;
        fail "cannot write $tmp: $why\n";
    }
    if ( !rename $tmp, $out ) {
        my $why = "$!";
        unlink $tmp;
        fail "cannot rename $tmp to $out: $why\n";
    }
}

# Exit status 1 (die would exit with whatever errno happens to hold).
sub fail {
    print STDERR 'mkmmdb: ', @_;
    exit 1;
}
