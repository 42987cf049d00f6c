/* header
 with 'quotes' */
DELETE FROM wilayah_boundaries WHERE kode BETWEEN '11' AND '15';
INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES
	('72','O''O''U',0.5,100.5,'[[[0.0,100.0],[0.0,101.0],[1.0,101.0],[1.0,100.0],[0.0,100.0]]]'),
 ( '72.01' ,  'Ma''U',0.5,100.5,'[[[[0.0,100.0],[0.0,101.0],[1.0,101.0],[1.0,100.0],[0.0,100.0]]]]') ;
-- end
# mysql comment
